project = 'glance-virtio'
copyright = 'glance-virtio developers'
extensions = ['cliff.sphinxext']
master_doc = 'index'
exclude_patterns = []
html_theme = 'alabaster'
autoprogram_cliff_application = 'glance-virtio'
