"""Disk backends behind one interface (``base.Backend``): local files + loop devices, or vSphere."""
