# GVS scheduler oracle case (wrr, weights 2 4 6 (gcd 2) then 3 6 0, sequential). Traffic helpers and topology: guest/lib.sh
# (client 10.0.1.2..40, rs1..rs4 = 10.0.11.2 .. 10.0.14.2, NAT).
# seq_conns: each connection closes before the next; held_conns: they stay
# ESTABLISHED until the batch ends. one_conn: one short connection to a given VIP.
net_setup
SPORT_BASE=4100
c ipvsadm -A -t 10.0.0.172:80 -s wrr
add_rs "-t 10.0.0.172:80" -m "2 4 6"
c seq_conns 9 10.0.0.172 80 same
c ipvsadm -e -t 10.0.0.172:80 -r 10.0.11.2:80 -m -w 3
c ipvsadm -e -t 10.0.0.172:80 -r 10.0.12.2:80 -m -w 6
c ipvsadm -e -t 10.0.0.172:80 -r 10.0.13.2:80 -m -w 0
SPORT_BASE=4110
c seq_conns 9 10.0.0.172 80 same
c ipvsadm -Ln -t 10.0.0.172:80
