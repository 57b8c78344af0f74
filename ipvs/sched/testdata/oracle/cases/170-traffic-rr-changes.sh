# GVS scheduler oracle case (rr: cursor survives additions, moves back when its server is deleted; re-added server from the trash). Traffic helpers and topology: guest/lib.sh
# (client 10.0.1.2..40, rs1..rs4 = 10.0.11.2 .. 10.0.14.2, NAT).
# seq_conns: each connection closes before the next; held_conns: they stay
# ESTABLISHED until the batch ends. one_conn: one short connection to a given VIP.
net_setup
SPORT_BASE=3900
c ipvsadm -A -t 10.0.0.170:80 -s rr
add_rs "-t 10.0.0.170:80" -m "1 1 1"
c seq_conns 2 10.0.0.170 80 same
c ipvsadm -d -t 10.0.0.170:80 -r 10.0.12.2:80
SPORT_BASE=3910
c seq_conns 3 10.0.0.170 80 same
c ipvsadm -a -t 10.0.0.170:80 -r 10.0.14.2:80 -m -w 1
SPORT_BASE=3920
c seq_conns 4 10.0.0.170 80 same
c ipvsadm -a -t 10.0.0.170:80 -r 10.0.12.2:80 -m -w 1
SPORT_BASE=3930
c seq_conns 5 10.0.0.170 80 same
c ipvsadm -e -t 10.0.0.170:80 -r 10.0.11.2:80 -m -w 0
SPORT_BASE=3940
c seq_conns 5 10.0.0.170 80 same
c ipvsadm -Ln -t 10.0.0.170:80
