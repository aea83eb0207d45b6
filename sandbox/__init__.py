"""A local emulator of the parts of HiBob's API peoplesync uses (never run in production).

``sandbox.server.start_sandbox()`` serves a generated company on loopback; ``python -m sandbox
serve`` does the same from a shell. docs/sandbox.md describes the emulated API, the control API
and which HiBob behaviours are guesses.
"""
