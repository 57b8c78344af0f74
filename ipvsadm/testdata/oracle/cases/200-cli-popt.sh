# popt grammar and errors
c ipvsadm -X
c ipvsadm --foo
c ipvsadm -A -t
c ipvsadm -A -t 10.0.0.1:80 -X
c ipvsadm -A -t 10.0.0.1:80 --foo
c ipvsadm -A -t 10.0.0.1:80 -s
c ipvsadm -A -t 10.0.0.1:80 -p -5
c ipvsadm -L --list=x
c ipvsadm -L -n=1
c ipvsadm -Ln=
c ipvsadm --list=1
c ipvsadm -L --tcp-service
c ipvsadm -L -t
c ipvsadm --tcp-service=10.0.0.1:80 -A
c ipvsadm -A --tcp-service=10.0.0.1:80
c ipvsadm -At 10.0.0.2:80
c ipvsadm -A -t10.0.0.3:80 -srr
c ipvsadm -A -t=10.0.0.4:80 -s=rr
c ipvsadm -A -t 10.0.0.5:80 -p
c ipvsadm -A -t 10.0.0.6:80 -p=30
c ipvsadm -A -t 10.0.0.7:80 -p30
c ipvsadm -A -t 10.0.0.8:80 -p 40 -s rr
c ipvsadm -A -t 10.0.0.9:80 -s rr -p
c ipvsadm -A -t 10.0.0.10:80 --persistent=50
c ipvsadm -A -t 10.0.0.11:80 --persistent 50
c ipvsadm -A -t 10.0.0.12:80 --persistent
c ipvsadm -A -t 10.0.0.13:80 -p ''
c ipvsadm -A -t 10.0.0.14:80 -p 0
c ipvsadm -A -t 10.0.0.15:80 -p x
c ipvsadm -A -t 10.0.0.16:80 -pn
c ipvsadm -Ln
c ipvsadm -L --start-daemon master
c ipvsadm -L --start-daemon=master
c ipvsadm -L -A
c ipvsadm -L -h
c ipvsadm -h -L
c ipvsadm -h --foo
c ipvsadm -v -X
c ipvsadm -V
c ipvsadm --version --foo
c ipvsadm foo
c ipvsadm foo -L -n
c ipvsadm -L -n foo
c ipvsadm -- -L
c ipvsadm -L -n --
c ipvsadm -L -n -- foo
c ipvsadm -L -n -
c ipvsadm -
c ipvsadm ''
c ipvsadm -L ''
c ipvsadm --
c ipvsadm -L -n -n
c ipvsadm -Lnn
c ipvsadm -L -c -c
c ipvsadm -A -t 10.0.0.1:80 -t 10.0.0.2:80
c ipvsadm -A -t 10.0.0.1:80 -f 1
c ipvsadm -A -t 10.0.0.1:80 -s rr -s wrr
c ipvsadm -A -t 10.0.0.1:80 -A
c ipvsadm -a -t 10.0.0.1:80 -r 1.2.3.4 -m -g
c ipvsadm -a -t 10.0.0.1:80 -r 1.2.3.4 -w 1 -w 2
c ipvsadm -L -c --stats
c ipvsadm -L --timeout --stats
c ipvsadm -L --daemon --persistent-conn
c ipvsadm -L --timeout --daemon
c ipvsadm -L -c --timeout
c ipvsadm -L -t 10.0.0.1:80 --timeout
c ipvsadm -L -c --persistent-conn --rate
c ipvsadm -L --tun-info --stats
c ipvsadm -L --sort --sort
c ipvsadm -L --nosort --nosort
c ipvsadm -L --exact -c
c ipvsadm -S -c
c ipvsadm -S --stats
c ipvsadm -R -n
c ipvsadm -C -n
c ipvsadm -Z -c
c ipvsadm -A -t 10.0.0.1:80 -r 1.2.3.4
c ipvsadm -A -t 10.0.0.1:80 -w 3
c ipvsadm -E -t 10.0.0.1:80 -m
c ipvsadm -a -t 10.0.0.1:80 -r 1.2.3.4 -s rr
c ipvsadm -a -t 10.0.0.1:80 -r 1.2.3.4 -p
c ipvsadm -a -r 1.2.3.4
c ipvsadm -a -t 10.0.0.1:80
c ipvsadm -e -t 10.0.0.1:80
c ipvsadm --set 1 2 3 -n
c ipvsadm --set 1 2 3 -t 10.0.0.1:80
c ipvsadm --set=1 2 3
c ipvsadm --set 1 2 3x
c ipvsadm --set 1 2 2678401
c ipvsadm --set 1 2 ' 3'
c ipvsadm --start-daemon master --stats
c ipvsadm --stop-daemon master --mcast-interface lo
c ipvsadm --stop-daemon master --syncid 5
c ipvsadm --stop-daemon
c ipvsadm -L -6
c ipvsadm -A -f 1 -6 -6
c ipvsadm -A -6 -f 1
c ipvsadm -A -t 10.0.0.1:80 --pe
c ipvsadm -A -t 10.0.0.1:80 -b
c ipvsadm -A -t 10.0.0.1:80 -M
c ipvsadm -L --json
c ipvsadm -L -n --tun-info=1
c ipvsadm -A -t 10.0.0.1:80 -s rr extra
c ipvsadm -A -t 10.0.0.1:80 -s rr -x 5
c ipvsadm -A -t 10.0.0.1:80 -s rr --tun-type gue
c ipvsadm -L -n -t 10.0.0.99:80 -c
c ipvsadm -D -t 10.0.0.99:80 -n
