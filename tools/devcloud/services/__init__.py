"""One module per service; each defines SERVICE (a server.Service)."""
