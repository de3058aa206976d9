"""Canary boots: Nova's devices in a local QEMU, verdict from the console."""
