"""The only code that speaks HiBob's HTTP API."""
