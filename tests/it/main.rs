mod scenario_files;
