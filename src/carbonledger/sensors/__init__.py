"""Read hardware, nothing else: sensors per vendor, and the discovery that chooses them."""
