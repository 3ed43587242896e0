"""The untrusted side: the process that imports the submission and makes the calls the judge asks for."""
