# coordinator/: sweep files, grid expansion, scheduling, results store, reports.
