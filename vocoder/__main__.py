from vocoder.cli import main

raise SystemExit(main())
