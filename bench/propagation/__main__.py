import sys

from bench.propagation.run import main

main(sys.argv[1:])
