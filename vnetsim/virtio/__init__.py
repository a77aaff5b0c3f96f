"""The device layer: the split virtqueue and the guest's RX ring in it."""
