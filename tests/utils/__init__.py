"""Helpers the tests share: a real hub (hubprocess), a swarm of dind nodes (swarmcluster), the admin shell (adminshell), kernels over websockets (kernels), waits and checks."""
