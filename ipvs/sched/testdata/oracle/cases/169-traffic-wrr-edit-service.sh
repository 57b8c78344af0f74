# GVS scheduler oracle case (wrr, weights 4 3 2: ipvsadm -E with the same scheduler keeps the position).
# Traffic helpers and topology: guest/lib.sh
# (client 10.0.1.2..40, rs1..rs4 = 10.0.11.2 .. 10.0.14.2, NAT).
# seq_conns: each connection closes before the next.
net_setup
SPORT_BASE=3850
c ipvsadm -A -t 10.0.0.169:80 -s wrr
add_rs "-t 10.0.0.169:80" -m "4 3 2"
c seq_conns 2 10.0.0.169 80 same
c ipvsadm -E -t 10.0.0.169:80 -s wrr
SPORT_BASE=3860
c seq_conns 4 10.0.0.169 80 same
c ipvsadm -E -t 10.0.0.169:80 -s wrr -b flag-3
SPORT_BASE=3870
c seq_conns 4 10.0.0.169 80 same
c ipvsadm -Ln -t 10.0.0.169:80
