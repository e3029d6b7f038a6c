"""The request service (port 8001): residents' print requests, the priority queue, batches, activation."""
