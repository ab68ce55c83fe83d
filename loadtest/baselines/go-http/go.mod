module cogo/loadtest/baselines/gohttp

go 1.19
