"""What admins see and hear: the status view, /metrics, the status page, notifications.
"""
