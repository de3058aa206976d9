"""The only code that talks to a service: Glance, Cinder, Nova, nova-manage."""
