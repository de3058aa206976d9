project = 'glance-virtio'
copyright = 'glance-virtio developers'
extensions = ['cliff.sphinxext', 'myst_parser', 'reno.sphinxext']
source_suffix = {'.rst': 'restructuredtext', '.md': 'markdown'}
master_doc = 'index'
exclude_patterns = []
html_theme = 'alabaster'
autoprogram_cliff_application = 'glance-virtio'
# The markdown pages link to files of the repository (bench/, tools/),
# which are not documents of this tree.
suppress_warnings = ['myst.xref_missing']
