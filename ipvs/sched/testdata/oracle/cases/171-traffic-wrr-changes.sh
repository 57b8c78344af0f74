# GVS scheduler oracle case (wrr: mw/di/gcd recomputed on every change, cursor back to the list head). Traffic helpers and topology: guest/lib.sh
# (client 10.0.1.2..40, rs1..rs4 = 10.0.11.2 .. 10.0.14.2, NAT).
# seq_conns: each connection closes before the next; held_conns: they stay
# ESTABLISHED until the batch ends. one_conn: one short connection to a given VIP.
net_setup
SPORT_BASE=4000
c ipvsadm -A -t 10.0.0.171:80 -s wrr
add_rs "-t 10.0.0.171:80" -m "4 3 2"
c seq_conns 5 10.0.0.171 80 same
c ipvsadm -e -t 10.0.0.171:80 -r 10.0.12.2:80 -m -w 1
SPORT_BASE=4010
c seq_conns 6 10.0.0.171 80 same
c ipvsadm -d -t 10.0.0.171:80 -r 10.0.11.2:80
SPORT_BASE=4020
c seq_conns 4 10.0.0.171 80 same
c ipvsadm -a -t 10.0.0.171:80 -r 10.0.14.2:80 -m -w 6
SPORT_BASE=4030
c seq_conns 8 10.0.0.171 80 same
c ipvsadm -Ln -t 10.0.0.171:80
