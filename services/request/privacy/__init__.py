"""Personal data: photos and signatures sealed at rest (keys.py), emptied after the retention window
(retention.py), and every look at a resident's record on record (access.py, endpoints.py). docs/privacy.md."""
