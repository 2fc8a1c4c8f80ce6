from xqg_pyserini.cli import main

raise SystemExit(main())
