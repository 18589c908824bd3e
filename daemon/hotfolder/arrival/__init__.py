"""How files arrive: watchdog events and scans → paths that are ready to claim (never decoded here).
"""
