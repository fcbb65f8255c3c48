"""The RS-485 serial gateway (serial-bus.md): bus master for the readers that cannot
speak HTTP, and a terminal of the terminal protocol for each of them. Built on
`terminals.client`, so no Django here either; `python -m terminals.serial_gateway`."""
