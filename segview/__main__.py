from segview.launcher import main

raise SystemExit(main())
