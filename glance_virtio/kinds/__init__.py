"""What differs per kind of thing the change engine changes.

images, volumes, servers: how each is listed and selected, read as a
model.Image for the rules, written one at a time and read back.
"""
