"""The Docker volume plugin that runs in each Docker VM and talks to the broker."""
