from bnguard.cli import run

run()
