"""The untrusted side: the process that imports the submission and makes the calls the judge asks for.

`runtime` serves the judge over an inherited socket; `transport` routes every httpx2 request there.
`confinement` puts the OS around it: a frozen `Policy`, the capability `probe`, and `command`, the
sandbox's command line; its first step (`enter.confine`) puts the policy in force on its own process.
"""
