/** Address classification: loopback and local ranges exempt, private by IP, public by IP and subnet; groups. */
import t from 'tap';
import { AddressPolicy, addressGroup, isLoopback, normalizeIp, parseRanges, subnetOf } from '../../src/transport/net-address.js';

t.test('ban subjects by kind of address', async (t) => {
  const p = new AddressPolicy(['192.168.7.0/24']);
  t.same(p.banSubjects('127.0.0.1'), [], 'loopback is never banned');
  t.same(p.banSubjects('::1'), []);
  t.same(p.banSubjects('::ffff:127.0.0.5'), [], 'IPv4-mapped loopback');
  t.same(p.banSubjects('192.168.7.9'), [], 'a configured local range');
  t.same(p.banSubjects('10.200.1.2'), ['ip:10.200.1.2'], 'private: the address only');
  t.same(p.banSubjects('8.8.4.4'), ['ip:8.8.4.4', 'net:8.8.4.0/24'], 'public: address and /24');
  t.same(p.banSubjects('2001:db8:1:2:3:4:5:6'), ['ip:2001:db8:1:2:3:4:5:6', 'net:2001:db8:1:2:0:0:0:0/64']);
  t.ok(p.isExempt('127.9.9.9'));
  t.notOk(p.isExempt('192.168.8.1'));
});

t.test('helpers', async (t) => {
  t.equal(normalizeIp('::FFFF:1.2.3.4'), '1.2.3.4');
  t.ok(isLoopback('127.0.0.1'));
  t.equal(subnetOf('1.2.3.4', 16, 32), '1.2.0.0/16');
  t.equal(subnetOf('2001:db8::1', 16, 32), '2001:db8:0:0:0:0:0:0/32');
  t.equal(addressGroup('127.0.0.1'), 'loopback');
  t.equal(addressGroup('example.org'), 'name:example.org');
  t.throws(() => parseRanges(['10.0.0.0']), /not a CIDR range/);
  t.throws(() => parseRanges(['10.0.0.0/33']), /not a CIDR range/);
  t.throws(() => parseRanges(['nonsense/8']), /not a CIDR range/);
});
