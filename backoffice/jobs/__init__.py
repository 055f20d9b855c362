"""RQ jobs: thin functions, one module per area; queues payments, mail, bulk."""
