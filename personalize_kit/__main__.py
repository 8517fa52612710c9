from personalize_kit.cli import main

raise SystemExit(main())
