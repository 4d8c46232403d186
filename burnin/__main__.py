from burnin.cli import main

main()
