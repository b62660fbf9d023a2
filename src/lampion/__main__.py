from lampion.cli import main

main()
