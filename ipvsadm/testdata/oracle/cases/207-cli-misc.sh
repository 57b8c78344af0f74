# remaining messages and grammar corners
c ipvsadm -A -t 10.0.0.1:80 -s rr
c ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.1:80 -m -y -1
c ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.1:80 -m -y abc
c ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.1:80 -m -y 2147483648
c ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.1:80 -m --l-threshold=3 --u-threshold=4
c ipvsadm 1 --set 2 3
c ipvsadm -L --timeout
c ipvsadm --set 900 120 300
c ipvsadm -L -t 10.0.0.1:80 --daemon
c ipvsadm -A -f 1 -s rr
c ipvsadm -a -f 1 -r 1.2.3.4:http -m
c ipvsadm -a -f 1 -r 1.2.3.5:domain -m
c ipvsadm -Ln -f 1
c ipvsadm -L -f 1
c ipvsadm -S -f 1
c ipvsadm -A -t 10.0.0.2:80 -s rr -p 10 -M 0.0.0.0
c ipvsadm -E -t 10.0.0.2:80 -s rr -p 10 -M 255.255.255.255
c ipvsadm -E -t 10.0.0.2:80 -s rr --pe nosuch
c ipvsadm -E -t 10.0.0.2:80 -s nosuch
c ipvsadm -Ln -t 10.0.0.2:80
c ipvsadm -A -t 10.0.0.3:80 -s rr --pe sip
c ipvsadm -Ln -t 10.0.0.3:80
c ipvsadm -S -n
c ipvsadm -D -t 10.0.0.3:80 -s rr
c ipvsadm -e -t 10.0.0.1:80 -r 192.168.1.1:80 -m --tun-type ipip
c ipvsadm -e -t 10.0.0.1:80 -r 192.168.1.1:80 -i --tun-type gue --tun-port 1 --tun-nocsum --tun-csum
c ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.1:80 -i --tun-remcsum
c ipvsadm -L -n -c -t 10.0.0.1:80
c ipvsadm -Z -t 10.0.0.1:80 -u 10.0.0.1:80
c ipvsadm --zero --tcp-service 10.0.0.1:80
c ipvsadm -L --stats --rate --thresholds --persistent-conn --tun-info -n
c ipvsadm -L --exact --nosort --sort -n
net_setup
SPORT_BASE=700
c ipvsadm -A -u 10.0.0.151:53 -s rr
c ipvsadm -a -u 10.0.0.151:53 -r 10.0.11.2:53 -m
udp_send() { /usr/sbin/ip -n client route replace 10.0.0.151/32 via 10.0.1.1 dev c0 src 10.0.1.2; echo x | /usr/sbin/ip netns exec client timeout 2 /usr/bin/nc.openbsd -u -w 1 -s 10.0.1.2 -p 40700 10.0.0.151 53 >/dev/null 2>&1; return 0; }
q udp_send
s 'ipvsadm -Lnc | grep -v TCP'
s 'ipvsadm -Lc | grep -v TCP'
c ipvsadm -Ln -u 10.0.0.151:53
