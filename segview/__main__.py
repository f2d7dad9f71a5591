from segview.cli.main import main

raise SystemExit(main())
