"""glance-virtio: audit and move Glance images to virtio disk buses."""


def version():
    from importlib import metadata
    try:
        return metadata.version('glance-virtio')
    except metadata.PackageNotFoundError:
        return '0.0.0'
