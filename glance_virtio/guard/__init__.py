"""glance_virtio_guard: a Glance interoperable-import plugin.

Glance loads glance_virtio.guard.plugin:get_flow (entry point group
glance.image_import.plugins, name glance_virtio_guard). The rest of the
package imports nothing of Glance: the verdict is plain data, tested
without a cloud.
"""
