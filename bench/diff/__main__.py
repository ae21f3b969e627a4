from bench.diff.run import main

raise SystemExit(main())
