"""The pieces of bench/hot_path.py: the floor server, the caller process, the processes it measures,
store trips, memory, and the report."""
