"""The host side: the tap queue and vhost-net worker, and used-buffer notification."""
