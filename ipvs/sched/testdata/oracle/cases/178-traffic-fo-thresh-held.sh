# GVS scheduler oracle case (fo, weights 3 5 5 with rs2 upper threshold 2, held (ties: first in list order; overloaded skipped)). Traffic helpers and topology: guest/lib.sh
# (client 10.0.1.2..40, rs1..rs4 = 10.0.11.2 .. 10.0.14.2, NAT).
# seq_conns: each connection closes before the next; held_conns: they stay
# ESTABLISHED until the batch ends. one_conn: one short connection to a given VIP.
net_setup
SPORT_BASE=4600
c ipvsadm -A -t 10.0.0.178:80 -s fo
c ipvsadm -a -t 10.0.0.178:80 -r 10.0.11.2:80 -m -w 3
c ipvsadm -a -t 10.0.0.178:80 -r 10.0.12.2:80 -m -w 5 -x 2
c ipvsadm -a -t 10.0.0.178:80 -r 10.0.13.2:80 -m -w 5
c held_conns 6 10.0.0.178 80 same
c ipvsadm -Ln -t 10.0.0.178:80
