from bench.compile.run import main

raise SystemExit(main())
