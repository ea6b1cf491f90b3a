module example.com/rbacfixture

go 1.24
