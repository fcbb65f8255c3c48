"""The card office's issuing station: a desk program that talks to the OneCard server
over HTTP only and to the card through PC/SC (`python -m terminals.station --help`)."""
