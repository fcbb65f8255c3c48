"""The terminal side of the OneCard terminal protocol, written once and used by
everything that plays a terminal: the fleet simulator, the issuing station, the serial
gateway and the tests.

No Django and nothing of `accounts` here: the two ends of the protocol are written
independently from `terminal-protocol.md` and `card-applet.md`, so a mistake on one
side shows up as a disagreement instead of being copied to the other.
"""
