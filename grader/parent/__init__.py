"""The parent process (trusted): runs one grade (starts the judge, reads its signed verdicts) and writes the results."""
