from policycheck.cli import main

main(prog_name="policycheck")
