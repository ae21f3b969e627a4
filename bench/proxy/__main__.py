import sys

from bench.proxy.run import main

main(sys.argv[1:])
