module cogo/loadtest/baselines/goruntime

go 1.19
